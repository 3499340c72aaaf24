"""Settings from `SLIPWAY_*` environment variables (pydantic-settings)."""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_AGENT_IMAGE = "slipway-agent:latest"
# Users' machines build the agent image on a normal public base; machines without a registry
# pass a locally made base instead (see scripts/make-local-base.sh).
DEFAULT_AGENT_BASE_IMAGE = "python:3.12-slim"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.home() / ".slipway")
    database_url: str | None = None

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    task_queue: str = "slipway"
    host_name: str = Field(default_factory=socket.gethostname)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # An SSE stream with nothing to send says `: ping` this often, so proxies keep it open.
    sse_ping_seconds: int = 15

    agent_image: str = DEFAULT_AGENT_IMAGE
    agent_base_image: str = DEFAULT_AGENT_BASE_IMAGE
    container_cpus: float = 1.0
    container_memory: str = "2g"
    container_pids_limit: int = 512
    # "bridge" gives the agent network access (it needs its model API); "none" isolates it.
    container_network: str = "bridge"

    git_author_name: str = "Slipway"
    git_author_email: str = "slipway@localhost"

    # A turn that prints nothing for this long (while not paused) fails; so does one that runs
    # longer than the maximum.
    turn_idle_timeout_seconds: float = 600.0
    turn_max_seconds: float = 3600.0
    # A run whose host's worker picks up none of its work for this long fails `host_lost`.
    host_lost_timeout_seconds: float = 120.0
    # How often each host's reconciler removes stray containers and repairs run rows.
    reconcile_interval_seconds: float = 30.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'slipway.db'}"

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "workspaces"

    @property
    def host_task_queue(self) -> str:
        return f"{self.task_queue}-host-{self.host_name}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
