"""The metrics and health server of `fallwatch run`, and how long a run waits for notifications at its end."""

from __future__ import annotations

from pydantic import Field

from fallwatch.core.config.base import Section


class ServerConfig(Section):
    metrics_port: int = Field(
        9108,
        ge=0,
        le=65535,
        description="Port of /metrics (Prometheus) and /healthz while `fallwatch run` runs; 0 turns it off.",
    )
    metrics_address: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the metrics server listens on (0.0.0.0 for every interface).",
    )
    flush_timeout_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="At the end of a run, how long to wait for pending notifications to go out.",
    )
