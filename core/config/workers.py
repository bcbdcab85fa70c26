"""Workers: how `fallwatch run` processes share the cameras of one settings file through the store's leases."""

from __future__ import annotations

import os
import socket

from pydantic import Field, model_validator

from fallwatch.core.config.base import NAME_RULE, Name, Section


def default_worker_name() -> str:
    """Host name and pid: unique among the processes of one store, and readable in `fallwatch workers`."""
    host = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in socket.gethostname())
    suffix = f"-{os.getpid()}"
    return (host.lstrip(".")[: 64 - len(suffix)] or "worker") + suffix


class WorkersConfig(Section):
    name: Name | None = Field(
        None,
        description=f"This worker's name in the store ({NAME_RULE}); default: host name and pid. In Kubernetes, the pod's name.",
    )
    lease_s: float = Field(
        15.0,
        ge=3,
        le=600,
        description="How long a camera stays with a worker that stops renewing its lease (dies, hangs, loses the database); another worker then takes it over.",
    )
    renew_s: float | None = Field(
        None,
        gt=0,
        le=200,
        description="How often leases are renewed and cameras claimed or handed on; default: a third of lease_s.",
    )
    max_cameras: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Most cameras this worker analyses at once; 0: no limit (the cameras are spread evenly over the live workers).",
    )

    @model_validator(mode="after")
    def _renew_within_lease(self) -> WorkersConfig:
        if self.renew_s is not None and self.renew_s * 2 > self.lease_s:
            raise ValueError(
                f"workers.renew_s {self.renew_s:g}: expected at most half of workers.lease_s ({self.lease_s:g}), "
                "so that a lease is renewed at least twice before it runs out"
            )
        return self

    @property
    def renew_every_s(self) -> float:
        return self.renew_s if self.renew_s is not None else self.lease_s / 3

    @property
    def resolved_name(self) -> str:
        return self.name or default_worker_name()
