"""Motion gating (like Frigate's): the detector runs on frames where something moved, and at a keep-alive rate
on still scenes; `masks` are areas whose movement never counts (a clock, a television, trees in a window)."""

from __future__ import annotations

from pydantic import Field, field_validator

from fallwatch.core.config.base import Section
from fallwatch.core.config.zones import polygon_problem


class MotionConfig(Section):
    enabled: bool = Field(
        True,
        description="Skip the detector on frames where nothing moved (their people are where the last detection saw them); off: detect on every analysed frame.",
    )
    threshold: float = Field(
        0.001,
        gt=0,
        le=1,
        description="Share of the (small, grey) frame that must have changed to count as motion: 0.001 is 19 of the 19,200 pixels of a 160 x 120 frame, a hand's movement across a room.",
    )
    pixel_threshold: int = Field(
        15, ge=1, le=255, description="Grey-level change (0-255) above which a pixel counts as changed."
    )
    keepalive_s: float = Field(
        1.0,
        gt=0,
        le=30,
        description="On a still scene the detector still runs at least this often (stream seconds), so a person lying still stays tracked: a collapse is exactly a person who stops moving.",
    )
    width: int = Field(
        160, ge=32, le=640, description="Width the frame is shrunk to for the motion test (pixels)."
    )
    masks: list[list[tuple[float, float]]] = Field(
        default_factory=list,
        max_length=64,
        description="Polygons [[x, y], ...] in source pixels whose movement is ignored.",
    )

    @field_validator("masks")
    @classmethod
    def _usable_polygons(cls, masks: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        for index, points in enumerate(masks):
            problem = polygon_problem(points)
            if problem is not None:
                raise ValueError(f"mask {index}: {problem}")
        return masks
