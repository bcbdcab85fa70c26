"""The SlowFast recognizer: which checkpoint, where it runs, how many tubelets a batch."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fallwatch.core.config.base import DEFAULT_DEVICE, Device, Section


class RecognizerConfig(Section):
    checkpoint: Path | None = Field(
        None,
        description="A FallWatch, pytorchvideo or PySlowFast checkpoint; defaults to the model shipped with FallWatch.",
    )
    device: Device = DEFAULT_DEVICE
    batch_size: int = Field(
        16, ge=1, le=512, description="Most tubelets judged in one forward pass (across tracks and cameras)."
    )
