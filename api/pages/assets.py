"""The pages' browser assets, fetched from the npm registry at install.

Every file a page loads is served by the service itself (``/assets/...``):
police networks are often closed, and the pages' Content-Security-Policy
forbids other hosts. The files are not committed; ``python -m
api.pages.assets install`` fetches them once with ``npm pack`` (the npm
registry's ordinary client) into a cache folder, or set
``JUNKAI_WEB_ASSETS`` to a folder copied from a connected machine.

- Leaflet: the maps;
- ``@digital-go-jp/design-tokens``: colours, type and spacing of the
  デジタル庁デザインシステム (CSS custom properties);
- ``swagger-ui-dist``: ``/docs`` without a CDN;
- ``axe-core``: the accessibility check of the browser tests (never served
  to users' pages).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from junkai_geo.errors import JunkaiGeoError
from junkai_geo.npm_registry import NpmTarball, fetch_tarball, registry_url, unpack
from junkai_geo.offline import user_cache_dir

ASSETS_ENV = "JUNKAI_WEB_ASSETS"


@dataclass(frozen=True)
class WebPackage:
    name: str
    version: str
    #: path inside the tarball (under ``package/``) -> path under the assets folder
    files: dict[str, str]
    #: the registry's dist.integrity of this version
    integrity: str

    @property
    def tarball(self) -> NpmTarball:
        return NpmTarball(self.name, self.version, self.integrity)


WEB_PACKAGES: tuple[WebPackage, ...] = (
    WebPackage(
        "leaflet",
        "1.9.4",
        {
            "dist/leaflet.js": "leaflet/leaflet.js",
            "dist/leaflet.css": "leaflet/leaflet.css",
            "dist/images/layers.png": "leaflet/images/layers.png",
            "dist/images/layers-2x.png": "leaflet/images/layers-2x.png",
            "dist/images/marker-icon.png": "leaflet/images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
            "LICENSE": "leaflet/LICENSE",
        },
        "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
    ),
    WebPackage(
        "@digital-go-jp/design-tokens",
        "1.1.9",
        {"dist/tokens.css": "tokens/tokens.css", "LICENSE": "tokens/LICENSE"},
        "sha512-93zW/Gb4/pwb63W7r8RHWQdbLGap4heHt5unQQjaqP1OlPqRif146tvqtyJ2xPcot3pnndFY3ph1DC0Crwp6bg==",
    ),
    WebPackage(
        "swagger-ui-dist",
        "5.35.0",
        {
            "swagger-ui-bundle.js": "swagger-ui/swagger-ui-bundle.js",
            "swagger-ui.css": "swagger-ui/swagger-ui.css",
            "favicon-32x32.png": "swagger-ui/favicon-32x32.png",
            "LICENSE": "swagger-ui/LICENSE",
        },
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
    ),
    WebPackage(
        "axe-core",
        "4.14.1",
        {"axe.min.js": "axe-core/axe.min.js", "LICENSE": "axe-core/LICENSE"},
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
    ),
)


class WebAssetsError(JunkaiGeoError, FileNotFoundError):
    """The pages' assets are missing and cannot be installed here."""


def default_assets_dir() -> Path:
    env = os.environ.get(ASSETS_ENV)
    if env:
        return Path(env)
    return user_cache_dir("pages_assets")


def required_files() -> list[str]:
    return [dst for p in WEB_PACKAGES for dst in p.files.values()]


def missing_assets(root: Path | None = None) -> list[str]:
    root = root or default_assets_dir()
    return [f for f in required_files() if not (root / f).is_file()]


def install_web_assets(root: Path | None = None) -> Path:
    """Fetch the packages from the npm registry into ``root`` (idempotent).

    Nothing is written to ``root`` until every tarball has arrived and
    matched its pinned integrity.
    """
    root = root or default_assets_dir()
    if not missing_assets(root):
        return root
    with tempfile.TemporaryDirectory() as tmp:
        try:
            tarballs = [
                fetch_tarball(p.tarball, Path(tmp), error=WebAssetsError) for p in WEB_PACKAGES
            ]
        except WebAssetsError as exc:
            raise WebAssetsError(
                f"the pages' assets are missing in {root} and the npm registry "
                f"({registry_url()}) cannot give them: {exc}; run `python -m api.pages.assets "
                f"install` where it is reachable or set {ASSETS_ENV} to a folder copied from "
                "another machine"
            ) from exc
        root.mkdir(parents=True, exist_ok=True)
        for pkg, tgz in zip(WEB_PACKAGES, tarballs, strict=True):
            unpack(tgz, pkg.files, root, spec=pkg.tarball.spec, error=WebAssetsError)
    missing = missing_assets(root)
    if missing:
        raise WebAssetsError(f"pages' assets still missing after install: {missing}")
    return root


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["install"]:
        print("usage: python -m api.pages.assets install", file=sys.stderr)
        return 2
    print(install_web_assets())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
