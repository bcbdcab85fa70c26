"""The SlowFast recognizer: which checkpoint, the runtime that runs it, where, how many tubelets a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from fallwatch.core.config.base import DEFAULT_DEVICE, Device, Section


class RecognizerConfig(Section):
    checkpoint: Path | None = Field(
        None,
        description="A FallWatch, pytorchvideo or PySlowFast checkpoint; defaults to the model shipped with FallWatch.",
    )
    backend: Literal["auto", "torch", "onnx", "openvino"] = Field(
        "auto",
        description="Runtime of the recognizer: torch runs the checkpoint; onnx (ONNX Runtime) and openvino run a copy exported once from it into the export directory (cached by the checkpoint's sha256), on the CPU. auto: openvino when it is installed, the device is the CPU and the export opens and matches torch, else torch. Both give torch's logits within 1e-4 (tested); on a loaded CPU OpenVINO slows down far less.",
    )
    export_dir: Path | None = Field(
        None,
        description="Where the onnx and openvino copies of the checkpoint are cached; default detector.export_dir, else <models_dir>/exports. Safe to share between workers and data directories (keyed by the checkpoint's sha256).",
    )
    device: Device = DEFAULT_DEVICE
    batch_size: int = Field(
        16, ge=1, le=512, description="Most tubelets judged in one forward pass (across tracks and cameras)."
    )
