"""Shared helpers for the recognizer tests: small models and random clips."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from fallwatch.recognizer import SlowFast, SlowFastConfig, build_slowfast

# Small enough to run in a blink on two shared cores, with every structural feature of the real thing.
SMALL = SlowFastConfig(depth=18, width=16, beta_inv=4, frames=8, crop=64, num_classes=3)


def clip_pair(config: SlowFastConfig, batch: int = 2, seed: int = 0, crop: int | None = None) -> list[Tensor]:
    generator = torch.Generator().manual_seed(seed)
    side = crop or config.crop
    slow = torch.randn(batch, 3, config.slow_frames, side, side, generator=generator)
    fast = torch.randn(batch, 3, config.frames, side, side, generator=generator)
    return [slow, fast]


def randomize_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm distinct statistics and affine terms, so that a mix-up of two norms shows in the
    output, while keeping activations (and logits) of order one."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            shape = tensor.shape
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(shape, generator=generator) + 0.5)
            elif name.endswith("running_mean"):
                tensor.copy_(torch.randn(shape, generator=generator) * 0.1)
            elif tensor.dim() == 1 and name.endswith("weight"):  # norm scales
                tensor.copy_(torch.rand(shape, generator=generator) * 0.3 + 0.1)
            elif tensor.dim() == 1 and name.endswith("bias"):
                tensor.copy_(torch.randn(shape, generator=generator) * 0.1)
            elif tensor.dim() == 2:  # the head
                tensor.copy_(torch.randn(shape, generator=generator) * 0.05)


def seeded_model(config: SlowFastConfig) -> SlowFast:
    """A network of `config` with seeded weights and distinct norms, in eval mode."""
    torch.manual_seed(0)
    model = build_slowfast(config)
    randomize_norms(model)
    return model.eval()


@pytest.fixture
def small_model() -> SlowFast:
    return seeded_model(SMALL)
