"""What every settings section shares: unknown keys refused, values validated when assigned too."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from fallwatch.core.errors import FallWatchError


class Section(BaseModel):
    """A YAML section: unknown keys are refused, values are validated when assigned too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# Names of cameras, zones and receivers: they end up in file names, topics and URLs, so they are one plain path
# component: no separator, no '.' or '..', nothing hidden, nothing a shell or a URL would read differently.
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$"
NAME_RULE = "1 to 64 letters, digits, '_', '.' or '-', not starting with '.'"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
_NAME = re.compile(NAME_PATTERN)


def is_valid_name(text: str) -> bool:
    """Whether `text` is a valid camera, zone or receiver name (the one definition, shared with `Name`)."""
    return _NAME.fullmatch(text) is not None


def check_name(text: str, what: str = "camera name") -> str:
    """`text` if it is a valid name, else FallWatchError naming it and what was expected."""
    if not is_valid_name(text):
        raise FallWatchError(f"{what} {text!r}: expected {NAME_RULE}")
    return text


# Where a model runs (the detector's and the recognizer's sections both have one).
Device = Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")]
DEFAULT_DEVICE: Device = Field("auto", description="auto picks the first CUDA GPU, else the CPU.")
