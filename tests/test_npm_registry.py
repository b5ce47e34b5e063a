"""Assets from the npm registry without the npm program: fetched, checked, all or nothing.

A real HTTP server on loopback plays the registry (and a ``file://`` folder
the offline mirror); the pinned integrity is what decides.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from junkai_geo import offline
from junkai_geo.npm_registry import NpmTarball, fetch_tarball

FIXTURES = Path(__file__).parent / "fixtures" / "npm_registry"
TAMPERED = FIXTURES / "leaflet" / "-" / "leaflet-1.9.3.tgz"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture()
def registry(tmp_path):
    """A registry folder served over HTTP on loopback; yields (folder, url)."""
    root = tmp_path / "registry"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_tarball_with_its_pinned_integrity_is_fetched_scoped_names_too(
    registry, tmp_path, monkeypatch
):
    root, url = registry
    data = TAMPERED.read_bytes()
    (root / "@scope" / "pkg" / "-").mkdir(parents=True)
    (root / "@scope" / "pkg" / "-" / "pkg-2.0.0.tgz").write_bytes(data)
    monkeypatch.setenv("JUNKAI_NPM_REGISTRY", url)
    got = fetch_tarball(NpmTarball("@scope/pkg", "2.0.0", _integrity(data)), tmp_path / "dl")
    assert got.read_bytes() == data


def test_a_registry_serving_other_bytes_is_refused_and_nothing_is_installed(
    registry, tmp_path, monkeypatch
):
    """A mirror with a tampered leaflet (fixture): named, both integrities, no assets folder."""
    root, url = registry
    (root / "leaflet" / "-").mkdir(parents=True)
    shutil.copy(TAMPERED, root / "leaflet" / "-" / TAMPERED.name)
    monkeypatch.setenv("JUNKAI_NPM_REGISTRY", url)
    target = tmp_path / "assets"
    with pytest.raises(offline.OfflineAssetsError) as exc:
        offline.install_assets(target)
    msg = str(exc.value)
    assert msg.startswith(
        f"leaflet@1.9.3: {url}leaflet/-/leaflet-1.9.3.tgz is not the pinned package"
    )
    assert _integrity(TAMPERED.read_bytes())[:23] in msg
    assert "expected sha512-iB2cR9vAkDOu5l3H" in msg
    assert not target.exists()


def test_a_file_mirror_works_and_a_missing_package_names_the_status(
    registry, tmp_path, monkeypatch
):
    root, url = registry
    monkeypatch.setenv("JUNKAI_NPM_REGISTRY", url)
    with pytest.raises(
        offline.OfflineAssetsError,
        match=r"^leaflet@1\.9\.3: .*leaflet-1\.9\.3\.tgz answered HTTP 404$",
    ):
        offline.install_assets(tmp_path / "a")
    # The fixture folder as a file:// mirror: reached, and refused for its bytes.
    monkeypatch.setenv("JUNKAI_NPM_REGISTRY", FIXTURES.as_uri())
    with pytest.raises(offline.OfflineAssetsError, match="is not the pinned package"):
        offline.install_assets(tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_pages_assets_fail_the_same_way_with_their_own_message(tmp_path, monkeypatch):
    from api.pages.assets import WebAssetsError, install_web_assets

    monkeypatch.setenv("JUNKAI_NPM_REGISTRY", "http://127.0.0.1:9/")
    with pytest.raises(WebAssetsError) as exc:
        install_web_assets(tmp_path / "web")
    msg = str(exc.value)
    assert "the npm registry (http://127.0.0.1:9/) cannot give them" in msg
    assert "leaflet@1.9.4: cannot read http://127.0.0.1:9/leaflet/-/leaflet-1.9.4.tgz" in msg
    assert not (tmp_path / "web").exists()
