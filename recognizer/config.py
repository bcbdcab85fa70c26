"""The architecture of one SlowFast network, as a small frozen value.

A `SlowFastConfig` is everything needed to rebuild a network's modules and to feed it: it is what a FallWatch
checkpoint stores next to the weights, so that loading never depends on code defaults that may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# Residual blocks per stage (res2..res5) for each supported depth. R18 uses basic blocks (two 3x3 convs) as
# ResNet-18 does; R50 and R101 use bottlenecks, as in the paper and in pytorchvideo.
STAGE_DEPTHS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
}

# The network halves the image five times (stem conv, stem pool, res3, res4, res5); a smaller crop would leave
# res5 with less than one pixel. Other sizes need not divide evenly: the head pools globally. Without the stem
# pool it halves four times, so the same bound is merely conservative there.
SPATIAL_STRIDE = 32


@dataclass(frozen=True, slots=True)
class SlowFastConfig:
    """The shape of a SlowFast network and the clip geometry it is built for.

    `width` is the slow pathway's stem channels (64 in the paper); every fast pathway layer has 1/`beta_inv`
    of the slow one's channels. The slow pathway sees every `alpha`-th of the fast pathway's `frames` frames,
    and each lateral connection is a (`fusion_kernel`, 1, 1) convolution with temporal stride `alpha` that
    turns the fast features into `fusion_channel_ratio` times as many channels before they are concatenated to
    the slow ones. `crop` is the square side the model is trained and run at (the head pools globally, so
    other sizes run too, but the weights are only meaningful near this one).
    """

    depth: int = 50
    width: int = 64
    alpha: int = 4
    beta_inv: int = 8
    fusion_kernel: int = 7
    fusion_channel_ratio: int = 2
    num_classes: int = 400
    dropout: float = 0.5
    frames: int = 32
    crop: int = 224
    # Features per frame of the optional third input (`recognizer.trajectory`); 0: video only, as in the paper.
    trajectory: int = 0
    trajectory_channels: int = 32
    # Whether the stems end with a 3x3 max pool (stride 2), as in the paper. torchvision's mc3_18 has none, so a
    # network that takes its weights must not pool either, or every stage would see half the resolution its
    # filters were trained at.
    stem_pool: bool = True

    def __post_init__(self) -> None:
        self._check_types()
        if self.depth not in STAGE_DEPTHS:
            raise ValueError(f"depth must be one of {sorted(STAGE_DEPTHS)}, got {self.depth}")
        for name in ("width", "alpha", "beta_inv", "fusion_kernel", "fusion_channel_ratio", "num_classes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.trajectory < 0 or self.trajectory_channels < 1:
            raise ValueError(
                f"trajectory must be >= 0 and trajectory_channels >= 1, got {self.trajectory} and "
                f"{self.trajectory_channels}"
            )
        if self.width % self.beta_inv:
            raise ValueError(f"width {self.width} must be divisible by beta_inv {self.beta_inv}")
        if self.fusion_kernel % 2 == 0:
            raise ValueError(f"fusion_kernel must be odd so that it stays centred, got {self.fusion_kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.frames < self.alpha or self.frames % self.alpha:
            raise ValueError(f"frames {self.frames} must be a positive multiple of alpha {self.alpha}")
        if self.crop < SPATIAL_STRIDE:
            raise ValueError(f"crop must be at least {SPATIAL_STRIDE} pixels, got {self.crop}")

    def _check_types(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "stem_pool":
                if not isinstance(value, bool):
                    raise ValueError(f"stem_pool must be true or false, got {value!r}")
                continue
            # bool is an int subclass; a config read from a file must not sneak one (or a str) through.
            allowed: tuple[type, ...] = (int, float) if f.name == "dropout" else (int,)
            if isinstance(value, bool) or not isinstance(value, allowed):
                kind = "a number" if f.name == "dropout" else "an integer"
                raise ValueError(f"{f.name} must be {kind}, got {value!r}")

    @property
    def bottleneck(self) -> bool:
        """Whether residual blocks are bottlenecks (R50, R101) rather than basic blocks (R18)."""
        return self.depth != 18

    @property
    def stage_depths(self) -> tuple[int, int, int, int]:
        return STAGE_DEPTHS[self.depth]

    @property
    def slow_frames(self) -> int:
        return self.frames // self.alpha

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, so that a checkpoint can be read with `torch.load(weights_only=True)`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlowFastConfig:
        """Rebuild from `to_dict`; unknown keys are refused rather than silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown architecture keys {unknown}; known: {sorted(known)}")
        return cls(**dict(data))
