"""One camera: where its video comes from, the part of the image to look at, its rate."""

from __future__ import annotations

from pydantic import Field, field_validator

from fallwatch.core.config.base import Section
from fallwatch.core.config.motion import MotionConfig


class CameraConfig(Section):
    source: str = Field(
        ...,
        min_length=1,
        description="A file path, an rtsp://, rtsps://, http:// or https:// URL, or a capture device (/dev/video0 or device:NAME).",
    )
    crop: tuple[int, int, int, int] | None = Field(
        None,
        description="Region of interest [x1, y1, x2, y2] in source pixels; the rest of the image is ignored.",
    )
    fps: float | None = Field(
        None, gt=0, le=60, description="Analysis rate for this camera; defaults to ingest.fps."
    )
    enabled: bool = Field(True, description="Set false to keep a camera in the file without running it.")
    motion: MotionConfig | None = Field(
        None,
        description="This camera's motion gating (its masks, say); defaults to the top-level motion section.",
    )

    @field_validator("crop")
    @classmethod
    def _crop_is_a_box(cls, crop: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if crop is None:
            return None
        x1, y1, x2, y2 = crop
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            raise ValueError(
                f"crop must be [x1, y1, x2, y2] with 0 <= x1 < x2 and 0 <= y1 < y2, got {list(crop)}"
            )
        return crop
