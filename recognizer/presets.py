"""Named SlowFast configurations, each with a builder function.

`slowfast_r50` and `slowfast_r101` are pytorchvideo's Kinetics-400 models of the same names (8x8: 32 fast
frames, alpha 4), so their model-zoo weights load into them. `slowfast_r18` is the same recipe with
ResNet-18's basic blocks. `slowfast_tiny` is sized for a CPU: R18 at 3/8 width on 16 frames of 112 px;
`slowfast_tiny_trajectory`, FallWatch's default, adds the box and keypoint trajectory as a third input;
`slowfast_tiny_trajectory_32f` is the same on twice the context (32 frames).
`slowfast_r18_mc3` is shaped so that torchvision's `mc3_18` fits its slow pathway (`recognizer.pretrained`), and
is fed with that model's normalisation (`preset_spec`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fallwatch.core.types import LABELS
from fallwatch.recognizer.config import SlowFastConfig
from fallwatch.recognizer.slowfast import SlowFast, build_slowfast
from fallwatch.recognizer.spec import (
    KINETICS_MEAN,
    KINETICS_STD,
    TORCHVISION_VIDEO_MEAN,
    TORCHVISION_VIDEO_STD,
    RecognizerSpec,
    Triplet,
    new_spec,
)
from fallwatch.recognizer.trajectory import FEATURES as TRAJECTORY_FEATURES

PRESETS: dict[str, SlowFastConfig] = {
    "slowfast_r50": SlowFastConfig(depth=50, fusion_kernel=7, num_classes=400),
    # pytorchvideo's R101 fuses with a 5-frame kernel.
    "slowfast_r101": SlowFastConfig(depth=101, fusion_kernel=5, num_classes=400),
    "slowfast_r18": SlowFastConfig(depth=18, num_classes=len(LABELS)),
    # Basic blocks have no 4x channel expansion, so beta_inv 8 would leave the fast pathway 3 channels wide at
    # res2; 4 keeps enough of it to carry motion. 3.4 M parameters: 13 MB as float32.
    "slowfast_tiny": SlowFastConfig(
        depth=18, width=24, beta_inv=4, frames=16, crop=112, num_classes=len(LABELS)
    ),
}
# The same, with the box and keypoint trajectory as a third input fused before the head.
PRESETS["slowfast_tiny_trajectory"] = replace(PRESETS["slowfast_tiny"], trajectory=TRAJECTORY_FEATURES)
# Twice the context: 32 frames (3.2 s at 10 fps), the slow pathway seeing 8 of them; twice the compute.
PRESETS["slowfast_tiny_trajectory_32f"] = replace(PRESETS["slowfast_tiny_trajectory"], frames=32)
# Its slow pathway is mc3_18 layer for layer (full width, no stem pool, 112 px, 4 of 16 frames), so that
# `--init mc3_18` starts it from weights trained on surveillance video. The fast pathway keeps beta_inv 4
# for the tiny preset's reason: at 8, basic blocks would leave it 8 channels wide at res2. 23.8 M
# parameters, most in res4/res5's 3x3x3 first convs: 95 MB as float32, 48 MB saved with `half`.
PRESETS["slowfast_r18_mc3"] = replace(PRESETS["slowfast_tiny_trajectory"], width=64, stem_pool=False)

# The input normalisation of each preset whose intended weights were trained with other statistics than
# Kinetics' (the spec carries it into checkpoints, so inference feeds the same). Channel order is RGB for all.
NORMALISATION: dict[str, tuple[Triplet, Triplet]] = {
    "slowfast_r18_mc3": (TORCHVISION_VIDEO_MEAN, TORCHVISION_VIDEO_STD),
}

# What `fallwatch train` builds unless told otherwise, and the architecture of the shipped model: the trajectory
# input caught more held-out falls with fewer false alarms (recognizer/weights/MODEL_CARD.md, ablation).
DEFAULT_PRESET = "slowfast_tiny_trajectory"


def preset_config(name: str, **overrides: Any) -> SlowFastConfig:
    """The named configuration, with any field replaced (e.g. `num_classes=3`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown SlowFast preset {name!r}; known: {', '.join(sorted(PRESETS))}")
    return replace(PRESETS[name], **overrides)


def preset_spec(name: str, labels: tuple[str, ...] | None = None, **overrides: Any) -> RecognizerSpec:
    """The spec of a fresh network of the named preset: its configuration and its input normalisation."""
    mean, std = NORMALISATION.get(name, (KINETICS_MEAN, KINETICS_STD))
    return new_spec(preset_config(name, **overrides), labels, mean=mean, std=std)


def build_preset(name: str, **overrides: Any) -> SlowFast:
    """A freshly initialised network of the named preset."""
    return build_slowfast(preset_config(name, **overrides))


def slowfast_r50(**overrides: Any) -> SlowFast:
    """pytorchvideo's `slowfast_r50`: 34,566,488 parameters with 400 classes."""
    return build_preset("slowfast_r50", **overrides)


def slowfast_r101(**overrides: Any) -> SlowFast:
    """pytorchvideo's `slowfast_r101`."""
    return build_preset("slowfast_r101", **overrides)


def slowfast_r18(**overrides: Any) -> SlowFast:
    """SlowFast with ResNet-18 basic blocks at full width."""
    return build_preset("slowfast_r18", **overrides)


def slowfast_tiny(**overrides: Any) -> SlowFast:
    """FallWatch's CPU default."""
    return build_preset("slowfast_tiny", **overrides)


def slowfast_tiny_trajectory(**overrides: Any) -> SlowFast:
    """FallWatch's CPU default with the box and keypoint trajectory as a third input."""
    return build_preset("slowfast_tiny_trajectory", **overrides)


def slowfast_tiny_trajectory_32f(**overrides: Any) -> SlowFast:
    """`slowfast_tiny_trajectory` on 32 frames (3.2 s of context) instead of 16."""
    return build_preset("slowfast_tiny_trajectory_32f", **overrides)


def slowfast_r18_mc3(**overrides: Any) -> SlowFast:
    """SlowFast R18 whose slow pathway takes torchvision's mc3_18 (`recognizer.pretrained.init_from_mc3_18`)."""
    return build_preset("slowfast_r18_mc3", **overrides)
