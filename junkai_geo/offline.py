"""Leaflet assets on local disk, so that HTML maps work on closed networks.

Police networks are often cut off from the internet. In offline mode a map's
HTML loads Leaflet and its plugins from files copied next to it
(``assets/``), draws no web tiles, and no request leaves the machine.

The assets are not committed: :func:`install_assets` fetches them once from
the npm registry (over HTTPS in Python, checked against pinned integrities:
no Node.js or npm needed, see :mod:`junkai_geo.npm_registry`) into a cache
folder; the heat-map plugin comes from the installed ``folium`` package
itself. Run ``python -m junkai_geo.offline install`` after
``pip install``, or set ``JUNKAI_GEO_ASSETS`` to a folder that already holds
them (for example one copied from a connected machine).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import JunkaiGeoError
from .npm_registry import REGISTRY_ENV, NpmTarball, fetch_tarball, registry_url, unpack

#: Environment variable naming the assets folder.
ASSETS_ENV = "JUNKAI_GEO_ASSETS"
#: Name of the folder written next to each offline HTML map.
ASSETS_SUBDIR = "assets"


@dataclass(frozen=True)
class NpmPackage:
    """One npm package and the files of it that maps load."""

    name: str
    version: str
    files: tuple[str, ...]  # paths inside the package tarball (under package/)
    folder: str  # folder under the assets dir
    integrity: str  # the registry's dist.integrity of this version

    @property
    def tarball(self) -> NpmTarball:
        return NpmTarball(self.name, self.version, self.integrity)

    @property
    def targets(self) -> dict[str, str]:
        """Path in the tarball -> path under the assets folder (``dist/`` dropped)."""
        return {
            f: f"{self.folder}/{f.split('/', 1)[1] if f.startswith('dist/') else f}"
            for f in self.files
        }


# Versions match the CDN links of folium 0.20 so that online and offline
# maps run the same code.
NPM_PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage(
        "leaflet",
        "1.9.3",
        (
            "dist/leaflet.js",
            "dist/leaflet.css",
            # leaflet.css refers to these by relative URL (layer control, markers).
            "dist/images/layers.png",
            "dist/images/layers-2x.png",
            "dist/images/marker-icon.png",
            "dist/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png",
            "LICENSE",
        ),
        "leaflet",
        "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
    ),
    NpmPackage(
        "leaflet.markercluster",
        "1.1.0",
        (
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
            "MIT-LICENCE.txt",
        ),
        "markercluster",
        "sha512-eI+XkCiLiHwCC3uZ4/n4+Vq3rXcqEHN2lhHRVG1WVziy/3Q0TTipWkzEa1zO0dKZI2AnI5ppFDWrOjnQ7MJLKQ==",
    ),
    # folium's popups are built with jQuery.
    NpmPackage(
        "jquery",
        "3.7.1",
        ("dist/jquery.min.js", "LICENSE.txt"),
        "jquery",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    ),
)

#: Files taken from the installed folium package (relative to folium/).
FOLIUM_FILES: dict[str, str] = {"templates/leaflet_heat.min.js": "heat/leaflet_heat.min.js"}

#: Resource file name at the end of a CDN URL -> local path under the assets dir.
LOCAL_BY_FILENAME: dict[str, str] = {
    "leaflet.js": "leaflet/leaflet.js",
    "leaflet.css": "leaflet/leaflet.css",
    "leaflet.markercluster.js": "markercluster/leaflet.markercluster.js",
    "MarkerCluster.css": "markercluster/MarkerCluster.css",
    "MarkerCluster.Default.css": "markercluster/MarkerCluster.Default.css",
    "leaflet_heat.min.js": "heat/leaflet_heat.min.js",
    "jquery-3.7.1.min.js": "jquery/jquery.min.js",
}

# folium's page template links these for its optional Bootstrap / Font
# Awesome markers; the project's maps use none of them (DivIcon markers,
# plain HTML legends), so offline pages leave them out rather than ship them.
# jQuery is kept: folium's popups need it.
_UNUSED_FILENAMES = frozenset(
    {
        "bootstrap.bundle.min.js",
        "bootstrap.min.css",
        "bootstrap-glyphicons.css",
        "all.min.css",
        "leaflet.awesome-markers.js",
        "leaflet.awesome-markers.css",
        "leaflet.awesome.rotate.min.css",
    }
)

_TAG_RE = re.compile(
    r"""<(script|link)\b[^>]*?\b(src|href)\s*=\s*["'](https?:)?//[^"']+["'][^>]*>(\s*</script>)?""",
    re.IGNORECASE,
)
_URL_RE = re.compile(r"""(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)["']""", re.IGNORECASE)


class OfflineAssetsError(JunkaiGeoError, FileNotFoundError):
    """The local Leaflet assets are missing or a map needs one we do not have."""


def default_assets_dir() -> Path:
    """The assets folder: ``$JUNKAI_GEO_ASSETS`` or the user cache folder."""
    env = os.environ.get(ASSETS_ENV)
    if env:
        return Path(env)
    return user_cache_dir("web_assets")


def user_cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/junkai_geo/NAME`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "junkai_geo" / name


def required_files() -> list[str]:
    """Every path, relative to the assets folder, that offline maps may need."""
    out = [dst for p in NPM_PACKAGES for dst in p.targets.values()]
    out += list(FOLIUM_FILES.values())
    return out


def missing_assets(assets_dir: Path | None = None) -> list[str]:
    """Files of :func:`required_files` absent from ``assets_dir``."""
    root = assets_dir or default_assets_dir()
    return [f for f in required_files() if not (root / f).is_file()]


def check_assets(assets_dir: Path | None = None) -> Path:
    """Return the assets folder, or raise saying how to install the assets."""
    root = assets_dir or default_assets_dir()
    missing = missing_assets(root)
    if missing:
        raise OfflineAssetsError(
            f"offline map assets missing in {root} ({len(missing)} file(s), e.g. {missing[0]}); "
            "install them with `python -m junkai_geo.offline install` (needs access to the "
            f"npm registry, {registry_url()}) or set {ASSETS_ENV} to a folder holding them"
        )
    return root


def install_assets(assets_dir: Path | None = None) -> Path:
    """Fetch Leaflet and plugins from the npm registry into ``assets_dir``.

    Idempotent: does nothing when every file is already there. Nothing is
    written to ``assets_dir`` until every tarball has arrived and matched
    its pinned integrity.
    """
    root = assets_dir or default_assets_dir()
    if not missing_assets(root):
        return root
    with tempfile.TemporaryDirectory() as tmp:
        tarballs = [
            fetch_tarball(pkg.tarball, Path(tmp), error=OfflineAssetsError) for pkg in NPM_PACKAGES
        ]
        root.mkdir(parents=True, exist_ok=True)
        for pkg, tgz in zip(NPM_PACKAGES, tarballs, strict=True):
            unpack(tgz, pkg.targets, root, spec=pkg.tarball.spec, error=OfflineAssetsError)
    import folium

    folium_dir = Path(folium.__file__).parent
    for src, dst in FOLIUM_FILES.items():
        target = root / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folium_dir / src, target)
    return check_assets(root)


def ensure_assets(assets_dir: Path | None = None) -> Path:
    """The assets folder, installed from the npm registry first when files are missing.

    What ``junkai-geo demo`` and other map writers call before writing
    offline maps (their default). When the files cannot be fetched (no
    access to the registry, a proxy serving other bytes), the error says in
    Japanese first, then English, how to fix it.
    """
    root = assets_dir or default_assets_dir()
    if not missing_assets(root):
        return root
    try:
        return install_assets(root)
    except (OfflineAssetsError, OSError) as exc:
        raise OfflineAssetsError(
            f"オフライン地図に必要なファイル（Leaflet など）が {root} にありません。"
            f"npm レジストリ（{registry_url()}）からの自動取得にも失敗しました。"
            "対処: レジストリに届くネットワークで "
            "`python -m junkai_geo.offline install` を実行するか"
            f"（社内のミラーは環境変数 {REGISTRY_ENV} に指定）、"
            f"取得済みのフォルダを環境変数 {ASSETS_ENV} に指定してください。"
            "インターネットから読み込む地図でよい場合は --online を付けてください。"
            f" / Offline map assets are missing in {root} and could not be fetched "
            f"from the npm registry ({exc}); run `python -m junkai_geo.offline install` "
            f"where the registry is reachable (a mirror: set {REGISTRY_ENV}), set "
            f"{ASSETS_ENV} to a folder holding them, or pass --online for maps that "
            "load from the internet."
        ) from exc


def localize_html(html: str, *, prefix: str = ASSETS_SUBDIR) -> tuple[str, set[str]]:
    """Point every external script / stylesheet of ``html`` to local files.

    Returns the new HTML and the set of asset paths (relative to the assets
    folder) it uses. Links folium adds for features the project does not use
    are removed; any other external resource is an error, so that an
    offline page can never quietly reach the internet.
    """
    used: set[str] = set()
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        tag = match.group(0)
        url_match = _URL_RE.search(tag)
        assert url_match is not None
        url = url_match.group(1)
        filename = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if filename in LOCAL_BY_FILENAME:
            local = LOCAL_BY_FILENAME[filename]
            used.add(local)
            return tag.replace(url, f"{prefix}/{local}")
        if filename in _UNUSED_FILENAMES:
            return ""
        unknown.append(url)
        return tag

    out = _TAG_RE.sub(replace, html)
    if "AwesomeMarkers" in out:
        unknown.append("leaflet.awesome-markers (folium.Icon markers)")
    leftover = _URL_RE.findall(out)
    # <a href> links (attribution text) are not requests; only loaded resources count.
    unknown += [u for u in leftover if _is_loaded_resource(out, u)]
    if unknown:
        raise OfflineAssetsError(
            "offline map would load external resources: " + ", ".join(sorted(set(unknown)))
        )
    if any(p.startswith("leaflet/leaflet.css") for p in used):
        used |= {f for f in required_files() if f.startswith("leaflet/images/")}
    return out, used


def _is_loaded_resource(html: str, url: str) -> bool:
    for m in re.finditer(re.escape(url), html):
        start = html.rfind("<", 0, m.start())
        if re.match(r"<(script|link|img|iframe)\b", html[start:]):
            return True
    return False


def copy_assets(used: set[str], out_dir: Path, assets_dir: Path | None = None) -> list[Path]:
    """Copy the ``used`` assets into ``out_dir / assets`` (skipping identical files)."""
    root = check_assets(assets_dir)
    copied = []
    for rel in sorted(used):
        src = root / rel
        dst = out_dir / ASSETS_SUBDIR / rel
        if dst.is_file() and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        copied.append(dst)
    return copied


def main(argv: list[str] | None = None) -> int:
    """``python -m junkai_geo.offline install [DIR]`` / ``check [DIR]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in {"install", "check"}:
        print("usage: python -m junkai_geo.offline install|check [ASSETS_DIR]", file=sys.stderr)
        return 2
    target = Path(args[1]) if len(args) > 1 else None
    try:
        root = install_assets(target) if args[0] == "install" else check_assets(target)
    except OfflineAssetsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
