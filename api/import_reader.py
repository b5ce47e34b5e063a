"""Loaded once by the upload readers' fork server (:mod:`api.import_sandbox`).

The GDAL sandbox settings go into this process's environment *before* GDAL
is loaded, so the drivers it registers never include the virtual ones; then
the readers (GeoPandas, pyogrio, pyproj) are imported, so that each upload's
reading process, a fork of the server, starts with them loaded instead of
spending most of a second importing them. The service itself never imports
this module: it would change the service's own GDAL settings.
"""

from __future__ import annotations

import os

from .import_sandbox import GDAL_SANDBOX_ENV

os.environ.update(GDAL_SANDBOX_ENV)

import junkai_geo.ingest  # noqa: E402, F401  (loads GeoPandas, pyogrio and GDAL)
