"""Where a model runs: the configured device, or for `auto` the first CUDA GPU, else the CPU."""

from __future__ import annotations

import torch


def pick_device(requested: str) -> str:
    if requested != "auto":
        return requested
    return "cuda:0" if torch.cuda.is_available() else "cpu"
