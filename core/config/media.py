"""Evidence media: snapshots and clips, their pre- and post-roll, retention and disk budget."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fallwatch.core.config.base import Section


class MediaConfig(Section):
    enabled: bool = Field(True, description="Record a snapshot and a clip for each incident.")
    root: Path | None = Field(
        None,
        description="Where snapshots and clips are written; default <data_dir>/media. Paths in the store are relative to it.",
    )
    pre_roll_s: float = Field(
        5.0, ge=0, le=60, description="Seconds of video kept before the moment an incident opens."
    )
    post_roll_s: float = Field(
        5.0, ge=0, le=120, description="Seconds of video recorded after the moment an incident opens."
    )
    buffer_frames: int = Field(
        600,
        ge=1,
        le=20000,
        description="Most recent frames held per camera for the pre-roll (bounds memory: width x height x 3 bytes each).",
    )
    jpeg_quality: int = Field(90, ge=10, le=100, description="Snapshot JPEG quality.")
    crf: int = Field(
        28,
        ge=0,
        le=51,
        description="H.264 constant rate factor of clips (lower is better and larger); ignored by the mpeg4 fallback.",
    )
    retention_days: float = Field(
        30.0, gt=0, le=3650, description="Evidence older than this many days is deleted."
    )
    disk_budget_mb: float = Field(
        5000.0,
        gt=0,
        le=10_000_000,
        description="Most disk space evidence may use; the oldest files go first when it is exceeded.",
    )
