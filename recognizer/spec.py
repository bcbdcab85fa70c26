"""What a caller needs to know about a loaded recognizer: its labels, its input geometry and where it came
from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from fallwatch.core.types import LABELS
from fallwatch.recognizer.config import SlowFastConfig

# Kinetics normalisation, used by pytorchvideo's and PySlowFast's SlowFast models (RGB in [0, 1]).
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
# torchvision's Kinetics-400 video models (r3d_18, mc3_18, r2plus1d_18), RGB in [0, 1]; the fight-detection
# fine-tune of mc3_18 that `recognizer.pretrained` starts from was trained with them too.
TORCHVISION_VIDEO_MEAN = (0.43216, 0.394666, 0.37645)
TORCHVISION_VIDEO_STD = (0.22803, 0.22145, 0.216989)

Triplet = tuple[float, float, float]

# The provenance format of weights that exist only in memory (a fresh preset, a replaced head).
IN_MEMORY = "in-memory"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where weights came from: the file, its format, and the SHA-256 of its bytes (None if never a file)."""

    source: str
    format: str
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class RecognizerSpec:
    """A model's contract: `labels[i]` is logit i; inputs are `frames` RGB frames of `crop` px, scaled to [0,
    1] and normalised by `mean`/`std`; the slow pathway takes every `alpha`-th of them.

    `derived_from` is the provenance of the weights a fine-tuned model started from.
    """

    arch: SlowFastConfig
    labels: tuple[str, ...]
    provenance: Provenance
    mean: Triplet = KINETICS_MEAN
    std: Triplet = KINETICS_STD
    derived_from: Provenance | None = None

    def __post_init__(self) -> None:
        labels = tuple(str(label) for label in self.labels)
        if len(labels) != self.arch.num_classes:
            raise ValueError(f"{len(labels)} labels for a model with {self.arch.num_classes} classes")
        if len(set(labels)) != len(labels) or not all(labels):
            raise ValueError(f"labels must be unique and non-empty, got {labels}")
        mean, std = _triplet(self.mean, "mean"), _triplet(self.std, "std")
        if min(std) <= 0:
            raise ValueError(f"std must be positive, got {std}")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def frames(self) -> int:
        """The fast pathway's frame count: a tubelet's length."""
        return self.arch.frames

    @property
    def alpha(self) -> int:
        return self.arch.alpha

    @property
    def crop(self) -> int:
        return self.arch.crop

    @property
    def slow_frames(self) -> int:
        return self.arch.slow_frames

    @property
    def trajectory(self) -> int:
        """Features per frame of the trajectory input; 0 when the model takes video only."""
        return self.arch.trajectory

    def relabelled(self, labels: tuple[str, ...]) -> RecognizerSpec:
        """The spec of this model after its head is replaced to predict `labels`.

        The weights are no longer those of any file, so the provenance says so and `derived_from` keeps the
        file the backbone came from.
        """
        arch = replace(self.arch, num_classes=len(labels))
        provenance = Provenance(f"{self.provenance.source} with a new head", IN_MEMORY)
        origin = self.derived_from or self.provenance
        return replace(self, arch=arch, labels=labels, provenance=provenance, derived_from=origin)


def _triplet(values: tuple[float, ...], name: str) -> Triplet:
    if len(values) != 3 or not all(math.isfinite(float(v)) for v in values):
        raise ValueError(f"{name} must be 3 finite numbers (R, G, B), got {values}")
    return (float(values[0]), float(values[1]), float(values[2]))


def placeholder_labels(count: int) -> tuple[str, ...]:
    """Names for classes a checkpoint does not name (pytorchvideo files carry no label list)."""
    return tuple(f"class_{index:03d}" for index in range(count))


def new_spec(
    arch: SlowFastConfig,
    labels: Sequence[str] | None = None,
    *,
    mean: Triplet = KINETICS_MEAN,
    std: Triplet = KINETICS_STD,
) -> RecognizerSpec:
    """The spec of a freshly built model: FallWatch's labels when it has 3 classes, placeholders otherwise.

    `mean`/`std` are those of the weights the model will start from (a preset names them), so that training
    and inference feed it what they were trained on.
    """
    if labels is None:
        labels = LABELS if arch.num_classes == len(LABELS) else placeholder_labels(arch.num_classes)
    provenance = Provenance("freshly initialised", IN_MEMORY)
    return RecognizerSpec(arch, tuple(labels), provenance, mean=mean, std=std)
