"""How cameras are read: the analysis rate, queues, and reconnecting live sources."""

from __future__ import annotations

from pydantic import Field, model_validator

from fallwatch.core.config.base import Section


class IngestConfig(Section):
    fps: float = Field(
        10.0,
        gt=0,
        le=60,
        description="Frames analysed per second of stream time; the rest are decoded and skipped.",
    )
    queue_size: int = Field(
        32,
        ge=1,
        le=1024,
        description="Analysed frames buffered per camera; live sources drop the oldest when full.",
    )
    min_analysed_fps: float = Field(
        2.0,
        gt=0,
        le=60,
        description=(
            "Frames per second a live camera must really be analysed at; under it (while frames are being "
            "skipped) the camera is reported behind and /healthz degraded. 2 keeps frames 0.5 s apart, so a fall "
            "(about a second from upright to the floor) is still seen on two or more frames; at most ingest.fps."
        ),
    )
    open_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for a live source to open before retrying."
    )
    stall_timeout_s: float = Field(
        5.0, gt=0, le=300, description="A live source that yields no frame for this long is reconnected."
    )
    reconnect_initial_s: float = Field(
        0.5, gt=0, le=60, description="First wait before reconnecting a live source; doubles each failed try."
    )
    reconnect_max_s: float = Field(30.0, gt=0, le=600, description="Longest wait between reconnect tries.")

    @model_validator(mode="after")
    def _backoff_order(self) -> IngestConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self

    @model_validator(mode="after")
    def _floor_under_rate(self) -> IngestConfig:
        if self.min_analysed_fps > self.fps:
            raise ValueError(
                f"min_analysed_fps ({self.min_analysed_fps:g}) must be <= fps ({self.fps:g}): "
                "a camera cannot be analysed faster than it is sampled"
            )
        return self
