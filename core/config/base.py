"""What every settings section shares: unknown keys refused, values validated when assigned too."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """A YAML section: unknown keys are refused, values are validated when assigned too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# Names of cameras, zones and receivers: they end up in file names, topics and URLs.
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]

# Where a model runs (the detector's and the recognizer's sections both have one).
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")]
DEFAULT_DEVICE: Device = Field("auto", description="auto picks the first CUDA GPU, else the CPU.")
