"""Package tarballs from the npm registry, over HTTPS, without the npm program.

The offline map assets (:mod:`junkai_geo.offline`) and the pages' assets
(``api/pages/assets.py``) are files of pinned npm packages. A fresh machine
with Python but no Node.js must still be able to fetch them, so they are
read straight from the registry's tarball address
(``{registry}/{name}/-/{basename}-{version}.tgz``, the same file ``npm
pack`` downloads) and checked against the ``sha512`` integrity pinned here:
a mirror or proxy that serves other bytes is refused, never unpacked.

The registry is ``$JUNKAI_NPM_REGISTRY``, else npm's own
``$npm_config_registry``, else ``https://registry.npmjs.org/``; proxies
follow the usual ``https_proxy`` variables. ``file://`` addresses work too
(a folder laid out like the registry, for a machine with no network).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import JunkaiGeoError

REGISTRY_ENV = "JUNKAI_NPM_REGISTRY"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
#: Seconds before a silent registry counts as unreachable.
TIMEOUT_S = 20.0


@dataclass(frozen=True)
class NpmTarball:
    """One pinned package version: name, version and its registry integrity."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>", as the registry's dist.integrity

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def url(self, registry: str | None = None) -> str:
        base = (registry or registry_url()).rstrip("/")
        short = self.name.rsplit("/", 1)[-1]
        return f"{base}/{self.name}/-/{short}-{self.version}.tgz"


def registry_url() -> str:
    """The registry in use (see the module's docstring)."""
    npm_own = os.environ.get("npm_config_registry")  # noqa: SIM112 (npm's own spelling)
    return os.environ.get(REGISTRY_ENV) or npm_own or DEFAULT_REGISTRY


def fetch_tarball(pkg: NpmTarball, dest: Path, *, error: type[Exception] = JunkaiGeoError) -> Path:
    """Download ``pkg``'s tarball into the folder ``dest``, checked; its path.

    Raises ``error`` naming the package, the address and what went wrong
    (unreachable, an HTTP status, or an integrity that differs from the pin).
    """
    url = pkg.url()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:  # noqa: S310 (https/file by design)
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise error(f"{pkg.spec}: {url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise error(f"{pkg.spec}: cannot read {url} ({reason})") from exc
    algo, _, expected = pkg.integrity.partition("-")
    found = base64.b64encode(hashlib.new(algo, data).digest()).decode("ascii")
    if found != expected:
        raise error(
            f"{pkg.spec}: {url} is not the pinned package (integrity {algo}-{found[:16]}…, "
            f"expected {pkg.integrity[:23]}…); check the registry or proxy in {REGISTRY_ENV}"
        )
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / url.rsplit("/", 1)[-1]
    path.write_bytes(data)
    return path


def unpack(
    tgz: Path,
    files: Mapping[str, str],
    root: Path,
    *,
    spec: str,
    error: type[Exception] = JunkaiGeoError,
) -> None:
    """Write the tarball's ``package/<src>`` files to ``root / <dst>`` (``files``: src -> dst)."""
    with tarfile.open(tgz, "r:gz") as tar:
        for src, dst in files.items():
            try:
                member = tar.extractfile(f"package/{src}")
            except KeyError:
                member = None
            if member is None:
                raise error(f"{spec}: {src} is not a file of the package")
            target = root / dst
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(member.read())
