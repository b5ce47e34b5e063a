"""Service settings, read from the environment (prefix ``JUNKAI_``).

``DATABASE_URL`` (no prefix) is honoured too, as most hosting expects.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from .import_sandbox import ImportLimits

#: GSI 地理院タイル (standard map): set ``JUNKAI_TILE_URL`` to this for an
#: online background. Terms: https://maps.gsi.go.jp/development/ichiran.html
GSI_TILE_URL = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_TILE_PREFIX = "https://cyberjapandata.gsi.go.jp/"
GSI_ATTRIBUTION = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'


class ApiSettings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="JUNKAI_", extra="ignore")

    #: SQLAlchemy URL; empty means the embedded SQLite file ``sqlite_path``.
    database_url: str = Field(
        default="", validation_alias=AliasChoices("JUNKAI_DATABASE_URL", "DATABASE_URL")
    )
    sqlite_path: Path = Path("junkai.sqlite3")
    #: Lifetime of a bearer token issued by ``/auth/token``.
    token_ttl_s: int = 8 * 3600
    #: Lifetime of an API key (a tablet's long-lived credential), days.
    api_key_ttl_days: int = Field(default=365, ge=1, le=3650)
    #: Failed logins per (username, client IP) allowed in ``login_window_s``.
    login_max_failures: int = 5
    login_window_s: int = 300
    #: Failed logins from one address, whatever the usernames (password spraying).
    login_max_failures_per_address: int = 20
    #: Failed logins of one username from any address; past it only addresses
    #: that logged in to that account within ``login_known_address_days`` may try.
    login_max_failures_per_account: int = 20
    login_known_address_days: int = 30
    #: Password checks (Argon2, ~50 ms of CPU each) running at once per worker,
    #: and how many may wait; beyond that a login gets 429 at once.
    login_verify_concurrency: int = 2
    login_queue_max: int = 64
    #: Seconds before a refused login (wrong password, 429) is answered: the
    #: event loop waits, holding no thread, and each connection of a flood
    #: can try at most once in this time.
    login_refusal_delay_s: float = Field(default=1.0, ge=0, le=10)
    #: Addresses of reverse proxies whose X-Forwarded-For is believed (comma
    #: separated, uvicorn's ``forwarded_allow_ips``); empty: none, the peer
    #: address is the client's.
    trusted_proxies: str = ""
    #: Wall-clock budget of one day plan (the solver's share included), seconds.
    #: 1 s gives 99.8 % of the value a 5 s plan finds (docs/api.md) at a
    #: quarter of its CPU; the solver stops on its work budget well before.
    plan_time_limit_s: float = 1.0
    #: Planner processes per server worker (api/planner.py); 0 plans in the
    #: request's thread.
    plan_processes: int = 2
    #: Niceness added to the planner processes: higher favours reads over
    #: plans (Linux: 0 as the server, 19 lowest). benchmarks/results/load.md.
    plan_nice: int = Field(default=0, ge=0, le=19)
    #: Rebalancing jobs queued or running at once (each is a process).
    max_rebalance_jobs: int = 2
    #: Calendar jobs queued or running at once (each is a process).
    max_calendar_jobs: int = 2
    #: Cards per 簿冊 (book) in the April beat survey.
    cards_per_book: int = 50
    #: Upper bound of rows returned by list endpoints.
    max_page_size: int = 1000
    #: Largest upload accepted by /imports, in bytes.
    max_upload_bytes: int = 50 * 1024 * 1024
    #: Budgets of reading one upload (api/import_sandbox.py): memory, CPU
    #: seconds, wall seconds, rows, vertices of one geometry.
    #: A reader starts at about 480 MB of address space (GDAL, GeoPandas and
    #: Arrow loaded): under 768 MB every file would be refused.
    import_memory_mb: int = Field(default=3072, ge=768)
    import_cpu_s: int = Field(default=120, ge=1)
    import_wall_s: float = Field(default=180.0, gt=0)
    import_max_rows: int = Field(default=2_000_000, ge=1)
    import_max_vertices_per_feature: int = Field(default=100_000, ge=4)
    #: Largest body of any other request (JSON, forms), in bytes; both limits
    #: hold before authentication (api/security.py).
    max_body_bytes: int = 2 * 1024 * 1024
    #: SQLite busy timeout: how long a writer waits for the write lock.
    sqlite_busy_timeout_ms: int = 30_000
    #: Connections kept open per worker process (the thread pool runs up to 40
    #: requests at once) and opened beyond that for a burst.
    pool_size: int = 30
    pool_max_overflow: int = 10
    #: Background map of the pages: an XYZ tile URL template
    #: (``{z}/{x}/{y}``). Empty: no web tiles (closed networks). The GSI
    #: 地理院タイル are the documented online choice: ``GSI_TILE_URL``.
    tile_url: str = ""
    #: Attribution shown under the map for ``tile_url`` (HTML); empty with a
    #: GSI URL gives ``GSI_ATTRIBUTION``.
    tile_attribution: str = ""
    #: A local MBTiles or PMTiles file (raster PNG / JPEG / WebP tiles of the user's area)
    #: served by the service itself at ``/tiles/{z}/{x}/{y}``; wins over
    #: ``tile_url``.
    tile_file: Path | None = None
    #: Folder of the pages' npm assets (Leaflet, design tokens, Swagger UI);
    #: empty: ``api.pages.assets.default_assets_dir()``.
    web_assets: Path | None = None
    #: Compute each station's workload figures (beats map, beat editor) in a
    #: background thread when the service starts.
    pages_prewarm: bool = True

    def tile_attribution_html(self) -> str:
        """The attribution of the configured background ("" without one)."""
        if self.tile_attribution:
            return self.tile_attribution
        if self.tile_url.startswith(GSI_TILE_PREFIX):
            return GSI_ATTRIBUTION
        return ""

    def import_limits(self) -> ImportLimits:
        from .import_sandbox import ImportLimits

        return ImportLimits(
            memory_bytes=self.import_memory_mb * 1024**2,
            cpu_s=self.import_cpu_s,
            wall_s=self.import_wall_s,
            max_rows=self.import_max_rows,
            max_vertices_per_feature=self.import_max_vertices_per_feature,
        )

    def url(self) -> str:
        """The effective SQLAlchemy URL."""
        if self.database_url:
            url = self.database_url
            # Plain postgres URLs from hosting panels: use psycopg 3.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix) :]
            return url
        return f"sqlite:///{self.sqlite_path}"


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()
