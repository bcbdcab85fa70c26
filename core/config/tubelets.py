"""Tubelets: the square crops of one person that the recognizer judges."""

from __future__ import annotations

from pydantic import Field

from fallwatch.core.config.base import Section


class TubeletConfig(Section):
    frames: int = Field(
        16, ge=2, le=128, description="Frames per tubelet (the recognizer's fast-pathway length)."
    )
    size: int = Field(112, ge=32, le=512, description="Side of the square crops, pixels.")
    stride: int = Field(
        4, ge=1, le=128, description="A tubelet is emitted every `stride` frames once the buffer is full."
    )
    margin: float = Field(
        0.25,
        ge=0,
        le=2,
        description="Context added around the person's box, as a fraction of its longer side.",
    )
