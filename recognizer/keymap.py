"""Reading other projects' SlowFast state dicts: renaming their keys to ours and inferring the architecture.

pytorchvideo names layers by position (`blocks.1.multipathway_blocks.0.res_blocks.0.branch2.conv_a.weight`),
PySlowFast by stage and pathway (`s2.pathway0_res0.branch2.a.weight`); FallWatch's names say what a layer is
(`s2.slow.blocks.0.branch.a.conv.weight`). Both foreign layouts hold the same tensors as ours, so a rename is
all a conversion takes; the widths, depth and fusion kernel can then be read back from the tensors' shapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from torch import Tensor

from fallwatch.recognizer.config import STAGE_DEPTHS, SlowFastConfig

PYTORCHVIDEO = "pytorchvideo"
PYSLOWFAST = "pyslowfast"

StateDict = dict[str, Tensor]
Rule = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

_PATHWAY = {"0": "slow", "1": "fast"}

# Inside a residual block the two projects agree up to spelling.
_PYTORCHVIDEO_BLOCK: list[Rule] = [
    (re.compile(r"\.res_blocks\.(\d+)\."), r".blocks.\1."),
    (re.compile(r"\.branch1_conv\."), ".shortcut.conv."),
    (re.compile(r"\.branch1_norm\."), ".shortcut.norm."),
    (re.compile(r"\.branch2\.conv_([abc])\."), r".branch.\1.conv."),
    (re.compile(r"\.branch2\.norm_([abc])\."), r".branch.\1.norm."),
]

_PYTORCHVIDEO: list[Rule] = [
    (
        re.compile(r"^blocks\.(\d)\.multipathway_blocks\.([01])\."),
        lambda m: f"s{int(m[1]) + 1}.{_PATHWAY[m[2]]}.",
    ),
    (
        re.compile(r"^blocks\.(\d)\.multipathway_fusion\.(?:conv_fast_to_slow|(norm))\."),
        lambda m: f"s{int(m[1]) + 1}.lateral.{m[2] or 'conv'}.",
    ),
    # The head is the last block (after a parameter-free pool-and-concatenate block).
    (re.compile(r"^blocks\.\d+\.proj\."), "head.proj."),
    *_PYTORCHVIDEO_BLOCK,
]

_PYSLOWFAST: list[Rule] = [
    (re.compile(r"^s1\.pathway([01])_stem\.bn\."), lambda m: f"s1.{_PATHWAY[m[1]]}.norm."),
    (re.compile(r"^s1\.pathway([01])_stem\.conv\."), lambda m: f"s1.{_PATHWAY[m[1]]}.conv."),
    (re.compile(r"^s(\d)\.pathway([01])_res(\d+)\."), lambda m: f"s{m[1]}.{_PATHWAY[m[2]]}.blocks.{m[3]}."),
    (re.compile(r"^s(\d)_fuse\.conv_f2s\."), r"s\1.lateral.conv."),
    (re.compile(r"^s(\d)_fuse\.bn\."), r"s\1.lateral.norm."),
    (re.compile(r"^head\.projection\."), "head.proj."),
    (re.compile(r"\.branch1\."), ".shortcut.conv."),
    (re.compile(r"\.branch1_bn\."), ".shortcut.norm."),
    (re.compile(r"\.branch2\.([abc])\."), r".branch.\1.conv."),
    (re.compile(r"\.branch2\.([abc])_bn\."), r".branch.\1.norm."),
]

_RULES = {PYTORCHVIDEO: _PYTORCHVIDEO, PYSLOWFAST: _PYSLOWFAST}


def detect_layout(keys: Iterable[str]) -> str | None:
    """PYTORCHVIDEO, PYSLOWFAST or None, from the stem's key (the one layer every SlowFast has)."""
    keys = set(keys)
    if "blocks.0.multipathway_blocks.0.conv.weight" in keys:
        return PYTORCHVIDEO
    if "s1.pathway0_stem.conv.weight" in keys:
        return PYSLOWFAST
    return None


def strip_wrapper_prefix(state: Mapping[str, Tensor]) -> StateDict:
    """Drop the `module.` that DataParallel/DistributedDataParallel put before every key."""
    if state and all(key.startswith("module.") for key in state):
        return {key.removeprefix("module."): value for key, value in state.items()}
    return dict(state)


def rename(state: Mapping[str, Tensor], layout: str) -> StateDict:
    """The state dict with `layout`'s keys renamed to FallWatch's; keys no rule knows are kept as they are, so
    that loading reports them as unexpected instead of losing them silently."""
    rules = _RULES[layout]
    renamed: StateDict = {}
    for key, value in state.items():
        for pattern, replacement in rules:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    return renamed


def _shape(state: Mapping[str, Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ValueError(f"it has no tensor {key}")
    return tuple(state[key].shape)


def _blocks_per_stage(state: Mapping[str, Tensor]) -> tuple[int, ...]:
    counts = []
    for stage in range(2, 6):
        pattern = re.compile(rf"^s{stage}\.slow\.blocks\.(\d+)\.")
        indices = {int(m[1]) for key in state if (m := pattern.match(key))}
        counts.append(max(indices) + 1 if indices else 0)
    return tuple(counts)


def infer_config(
    state: Mapping[str, Tensor], *, alpha: int = 4, frames: int = 32, crop: int = 224
) -> SlowFastConfig:
    """The architecture whose tensors these are (keys in FallWatch's naming).

    The temporal stride alpha and the clip geometry leave no trace in the weights, so they are given; the
    defaults are the 8x8 recipe of pytorchvideo's Kinetics models. Raises ValueError saying what does not fit.
    """
    width = _shape(state, "s1.slow.conv.weight")[0]
    fast_width = _shape(state, "s1.fast.conv.weight")[0]
    lateral_out, lateral_in, fusion_kernel, *_ = _shape(state, "s1.lateral.conv.weight")
    blocks = _blocks_per_stage(state)
    depth = next((d for d, stages in STAGE_DEPTHS.items() if stages == blocks), None)
    if depth is None:
        known = ", ".join(f"R{d} {stages}" for d, stages in STAGE_DEPTHS.items())
        raise ValueError(f"its res stages have {blocks} blocks; supported: {known}")
    bottleneck = "s2.slow.blocks.0.branch.c.conv.weight" in state
    if bottleneck != (depth != 18):
        kind = "bottleneck" if bottleneck else "basic"
        raise ValueError(f"it has {kind} blocks with R{depth}'s stage depths {blocks}")
    if fast_width == 0 or width % fast_width or lateral_in == 0 or lateral_out % lateral_in:
        raise ValueError(f"its channel widths (slow {width}, fast {fast_width}) are not a SlowFast ratio")
    num_classes = _shape(state, "head.proj.weight")[0]
    return SlowFastConfig(
        depth=depth,
        width=width,
        alpha=alpha,
        beta_inv=width // fast_width,
        fusion_kernel=fusion_kernel,
        fusion_channel_ratio=lateral_out // lateral_in,
        num_classes=num_classes,
        frames=frames,
        crop=crop,
    )
