"""The DeepSORT tracker: appearance, ages and the re-link that keeps a falling person's ID."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fallwatch.core.config.base import Section


class TrackerConfig(Section):
    embedder: Literal["histogram", "mobilenet"] = Field(
        "histogram",
        description="Appearance embedding: a colour histogram (under 1 ms) or deep-sort's MobileNet (about 100 ms a call on 2 CPU cores).",
    )
    max_age: int = Field(
        30, ge=1, le=1000, description="Analysed frames a track survives without a detection before it ends."
    )
    n_init: int = Field(3, ge=1, le=30, description="Consecutive detections that confirm a new track.")
    max_iou_distance: float = Field(
        0.7, gt=0, le=1, description="Largest 1 - IoU accepted when matching by position."
    )
    max_cosine_distance: float = Field(
        0.3, gt=0, le=2, description="Largest appearance distance accepted when matching."
    )
    coast_frames: int = Field(
        20,
        ge=0,
        le=1000,
        description="Frames a confirmed track is still reported, on the box where the person was last seen, while the detector misses them (a person lying still is often missed).",
    )
    gating_only_position: bool = Field(
        True,
        description="Gate matches on box position only, not shape: a falling person's box changes shape fast.",
    )
    relink_s: float = Field(
        3.0,
        ge=0,
        le=60,
        description="A new track that appears where a lost one was, within this many stream seconds, keeps the lost one's ID (0 turns it off).",
    )
    relink_max_distance: float = Field(
        0.6, gt=0, le=2, description="Largest appearance distance for such a re-link."
    )
